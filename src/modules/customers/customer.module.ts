import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { CustomerController } from 'src/modules/customers/customer.controller';
import { CustomerEntity } from 'src/modules/customers/customer.entity';
import { CustomerRepository } from 'src/modules/customers/customer.repository';
import { CustomerService } from 'src/modules/customers/customer.service';

@Module({
  imports: [TypeOrmModule.forFeature([CustomerEntity])],
  controllers: [CustomerController],
  providers: [CustomerRepository, CustomerService],
  exports: [CustomerService],
})
export class CustomerModule {}
