import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { ProductController } from 'src/modules/products/product.controller';
import { ProductEntity } from 'src/modules/products/product.entity';
import { ProductRepository } from 'src/modules/products/product.repository';
import { ProductService } from 'src/modules/products/product.service';

@Module({
  imports: [TypeOrmModule.forFeature([ProductEntity])],
  controllers: [ProductController],
  providers: [ProductRepository, ProductService],
  exports: [ProductService],
})
export class ProductModule {}
